"""Convolutional networks of chapter 4: a LeNet-style CNN and VGG blocks (filled by chapter 4)."""
