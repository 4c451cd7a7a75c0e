"""Documents: results issued as PDFs signed (PAdES) and time-stamped (RFC 3161), and /verify/."""
