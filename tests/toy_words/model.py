"""Counts a text's words and how many are not stop words (the artifact's list)."""

import json
from typing import Any

from kit import Artifact, ServedModel
from kit.model import validate_instances
from tests.toy_words.schema import INSTANCE


class WordsModel(ServedModel):
    name = "words"
    offload = False

    def load(self, artifact: Artifact) -> None:
        self.stop_words = set(json.loads(artifact.file("stop_words.json").read_text()))
        super().load(artifact)

    def input_schema(self) -> dict[str, Any]:
        return INSTANCE.json_schema()

    def predict(self, instances: list[Any]) -> list[dict[str, Any]]:
        texts = [i.text for i in validate_instances(INSTANCE, instances)]
        return [{"words": len(words), "content_words": sum(w not in self.stop_words for w in words)}
                for words in (text.lower().split() for text in texts)]
