//! goscope-runtime: see DESIGN.md. (Created empty; filled by the issue that needs it.)
