"""Layer 8, grading: students' submissions, a class's grade, gradebook and classroom formats."""
