//! Faults other than a hub crash (filled in below).
