//! `goscope opt`: the compiler's optimization decisions tied to instructions.
