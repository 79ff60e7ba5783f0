"""The main window and its menus, dialogs, files, settings and app startup."""
