"""Multi-step media pipelines (provider ``pipeline``): image-to-video and text-to-image-to-video.

``provider`` holds the task types and params, ``runner`` chains the steps as child tasks of other providers,
``frames`` fits a first frame to a video vendor's rules, ``steps`` runs CPU steps as Ray tasks with retries.
"""
