from kit.serve import serve
from tests.toy_words.app import build_app
from tests.toy_words.settings import WordsSettings

if __name__ == "__main__":
    settings = WordsSettings()
    serve(build_app(settings), settings)
