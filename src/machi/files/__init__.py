"""Files: attachments made safe (無害化) and kept outside the web root."""
