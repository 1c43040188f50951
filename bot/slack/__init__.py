"""The Slack face: the Bolt app, its listeners (command, mention, actions, sweep), blocks, serve, settings."""
