"""The network editor: canvas, palette, inspector, summary and the editor's menus."""
