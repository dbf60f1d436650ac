"""Exceptions raised by rewardscope.

Errors a user can cause (a missing or corrupt file, an image of the wrong shape, an
impossible parameter) are :class:`InputError` or one of its subclasses. The command line
turns them into a single line on stderr and exit code 2; anything else is a bug.

An input or result that is possible but implausible (a pixel size that makes the unit
cell a fraction of a pixel, far more atoms than the lattice allows) gives a
:class:`PlausibilityWarning`; with ``strict`` it is a :class:`PlausibilityError` instead.
"""

from __future__ import annotations


class RewardscopeError(Exception):
    """Base class of all rewardscope exceptions."""


class InputError(RewardscopeError, ValueError):
    """Something the user supplied cannot be used (file, array, parameter)."""


class FileFormatError(InputError):
    """A file is missing, unreadable, corrupt or of an unsupported format."""


class ImageShapeError(InputError):
    """An array has the wrong number of dimensions or an unusable size."""


class ImageValueError(InputError):
    """An image holds NaN/inf values, or is empty or constant."""


class CalibrationError(InputError):
    """A pixel size is missing where one is needed, or is not a positive length."""


class ParameterError(InputError):
    """A parameter is out of its allowed range."""


class PlausibilityError(InputError):
    """A plausibility check failed in strict mode (e.g. a pixel size that cannot fit the lattice)."""


class PlausibilityWarning(UserWarning):
    """The input or the result is implausible (e.g. far from the expected atom count); see the message."""
