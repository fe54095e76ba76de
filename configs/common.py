"""Config helpers shared by every ``configs/<name>.py`` (cf. big_vision's ``parse_arg``).

Each config file's ``get_config(arg)`` builds the default config and hands it
to :func:`with_variant` with a table of named variants, each a mapping of
dotted field names to the values that variant overrides::

    def get_config(arg=""):
      config = ...
      return common.with_variant(config, arg, {
          "smoke": {"cnn_workdir": "", "cnn_train": train.get_config("digits"),
                    "small_cnn.num_images": 2},
      })

``--config=configs/<name>.py:smoke`` selects a variant; ``""`` is the default.
"""

from __future__ import annotations

from typing import Any, Mapping

import ml_collections

Variants = Mapping[str, Mapping[str, Any]]


def with_variant(config: ml_collections.ConfigDict, arg: str,
                 variants: Variants) -> ml_collections.ConfigDict:
  """``config`` with the overrides of variant ``arg`` applied (``""``: unchanged).

  Args:
    config: the default config.
    arg: the variant name after the colon of ``--config=file.py:arg``.
    variants: ``{name: {"dotted.field": value}}``; every field must exist.

  Returns:
    ``config`` (modified in place).

  Raises:
    ValueError: an unknown variant (lists the known ones) or a field the
      config does not have.
  """
  if not arg:
    return config
  if arg not in variants:
    raise ValueError(f"Unknown variant {arg!r}; expected '' or one of {sorted(variants)}.")
  for dotted, value in variants[arg].items():
    *parents, field = dotted.split(".")
    node = config
    for name in parents:
      node = node[name]
    if field not in node:
      raise ValueError(f"Variant {arg!r} sets {dotted!r}, which the config does not have.")
    node[field] = value
  return config
