"""Typed errors raised by the model layer. Each message is a sentence a user can act on."""


class ModelError(Exception):
    """Base class of every error the model layer raises on purpose."""


class ModelNotFoundError(ModelError):
    """The model path or bundled package does not exist."""


class WeightsError(ModelError):
    """A checkpoint does not match the architecture: missing, extra or mis-shaped tensors."""


class UnsupportedModelError(ModelError):
    """The checkpoint uses an architecture, quantisation or option we do not implement."""


class TokenizerError(ModelError):
    """The tokenizer or chat template could not be built from the model's files."""


class GenerationError(ModelError):
    """Invalid generation settings, or a prompt that cannot fit the context."""
