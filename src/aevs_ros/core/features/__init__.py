"""Visual feature families: each turns an image into features s and their interaction matrix."""
