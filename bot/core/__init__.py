"""The core: messages and their vocabularies, intents, language, text, phrases and masking. No I/O beyond reading
the data Tanya ships, and no import of any layer above it."""
