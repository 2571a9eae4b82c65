from kit.serve import serve
from tests.toy_words.settings import WordsSettings

if __name__ == "__main__":
    serve("tests.toy_words.app:build_app", WordsSettings())
