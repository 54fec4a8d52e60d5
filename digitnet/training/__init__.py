"""Training, above the network and the data: the trainer, the one pipeline every training goes
through, background jobs for the app, fine-tuning on a person's drawings, the model card, and
the catalogue of shipped and saved models."""
