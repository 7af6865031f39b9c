"""rhdesk: edit images with RunningHub's Seedream models from the desktop."""

__version__ = "0.1.0"
APP_NAME = "rhdesk"
APP_DISPLAY_NAME = "rhdesk"
ORG_NAME = "rhdesk"
