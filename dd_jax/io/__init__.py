"""Reading and writing: images and measurements in, PNG/JSON/CSV/plots out."""
