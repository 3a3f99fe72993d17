"""Figure code for the course: one function per figure, each returning an inline SVG string."""
