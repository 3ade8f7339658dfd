"""socklab: a containerised network lab that makes socket-programming lessons observable."""
