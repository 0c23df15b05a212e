"""ComfyUI workflows as typed, versioned APIs (docs/workflows.md).

Upload a graph (``service.WorkflowService.upload``): it is converted from the UI format if need be
(``ui_format``), checked (``graph``), analyzed into typed inputs and outputs (``analyzer``, ``overrides``, with
node facts from ``object_info`` or ``nodes``) and stored per tenant as the next version (``store``). A run checks
the caller's values (``values``), fills them into the stored graph (``fill``) and submits an ordinary
``comfyui`` task of type ``workflow``, which the comfyui runner executes like any other ComfyUI job.
"""
