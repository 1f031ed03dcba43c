"""What leaves the platform: approved project extracts and disclosure-checked aggregate outputs."""
