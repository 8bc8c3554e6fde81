"""Model components: losses, stage schedule, volume compositing."""
