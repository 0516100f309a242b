"""Data sets: 2-D toys with exact densities, built-in images, and users' own files.

`load_dataset(name_or_path)` returns a `Dataset` with float32 `train`/`test` tensors shaped
`[N, *shape]` (`LazyRows` for data kept on disk, `data.lazy`). Vector data is used as given; images
are scaled to [0, 1].
"""

from gausslab.data.config import DataConfig
from gausslab.data.dataset import Dataset, Modes
from gausslab.data.registry import DATASETS, load_dataset, load_from_config

__all__ = ["DATASETS", "DataConfig", "Dataset", "Modes", "load_dataset", "load_from_config"]
