"""Starting workflows and readable workflow ids: the DispatchService handlers, the rules of a
start, and the StartWorkflowExecution call."""
