"""Names shared by every node module."""
CATEGORY = "SDE Drag"
DEMO_CATEGORY = "SDE Drag/demo"
