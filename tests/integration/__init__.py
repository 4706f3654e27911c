"""The handlers wired through in-process moto and the Bot API emulator."""
