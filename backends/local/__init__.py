"""Local QLoRA training and inference; torch and friends are imported only in worker processes."""
