"""What the views and cards show, as plain data read from the workspace. No Textual here."""
