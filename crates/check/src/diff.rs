//! `goscope diff`: machine-level changes between two builds.
