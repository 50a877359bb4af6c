"""The one door to a model: messages and a validator in, a validated answer and its trace out.

`client` talks to any OpenAI-compatible endpoint (the only `openai` import, with `http` reading
its error answers): retries, format negotiation, streaming, bounded re-asks. `schema` says what a
model must return and checks it; `sourcekeys` puts retrieved `Hit`s under opaque keys, quoted and
defused; `prompts` loads the prompt files of `prompts/`; `trace` holds what a call reports back.
Nothing here knows what a draft or a follow-up is: `drafting.model` and `followup.model` do.
"""
