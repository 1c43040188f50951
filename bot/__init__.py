"""fpcheck's faces: the Slack bot and the terminal command."""
