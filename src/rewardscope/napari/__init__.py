"""The napari plugin (optional: ``pip install "rewardscope[napari]"``).

An npe2 plugin (manifest ``napari.yaml``, entry point ``napari.manifest`` in pyproject):

- :mod:`~rewardscope.napari.reader`: every format :func:`rewardscope.io.read_image` reads,
  with the calibration as the layer's scale in nm and a movie's frames as the time axis;
- :mod:`~rewardscope.napari.samples`: the shipped real HRTEM image, a simulated HAADF
  image and a simulated in-situ movie;
- :mod:`~rewardscope.napari.fields`: magicgui widgets built from the workflows' pydantic
  config models (the one source of defaults and help texts, shared with the API and CLI);
- :mod:`~rewardscope.napari.widgets`: atoms (LoG*, DCNN), classify, amorphous, segment,
  drift and track, each calling the public API in a worker thread (progress bar, cancel)
  and showing results as layers (Points with per-atom properties coloured by class,
  Labels, Tracks with the merge graph);
- :mod:`~rewardscope.napari.pareto`: the Pareto front of the last study in a dock widget,
  the chosen point marked; clicking another point of the front shows that trial's result.

This package imports napari, Qt and magicgui; nothing else in rewardscope imports it, so
``import rewardscope``, ``rewardscope --help`` and ``make demo`` never load Qt.
"""
