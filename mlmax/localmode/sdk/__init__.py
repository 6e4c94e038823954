"""The SageMaker SDK in Local Mode: the offline session, a job as SDK objects, and every hook
mlmax puts on the SDK (each internal it relies on pinned in `internals`)."""
