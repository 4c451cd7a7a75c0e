"""Online procedures (電子申請): catalog, versioned forms, applications and their tracking."""
