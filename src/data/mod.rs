//! Data sets (placeholder).
