"""The digits: MNIST (read, found or downloaded, cached), a drawing or photo made into an MNIST
image (preprocess), augmentation of images and of strokes, pen-drawn digits, MNIST re-drawn on
the canvas, and the collection of drawings people save. Nothing here knows about networks."""
