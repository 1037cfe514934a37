//! The crash matrix on real members (filled in below).
