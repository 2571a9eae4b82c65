"""`python -m trainer` serves the training-jobs API on TRAINER_HOST:TRAINER_PORT (default 8090)."""

from kit.serve import serve
from trainer.app import build_app
from trainer.settings import TrainerSettings


def main() -> None:
    settings = TrainerSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
