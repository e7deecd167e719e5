"""The URLs and the view of ``bench.server_apps.django`` (Django's ``ROOT_URLCONF``)."""

from __future__ import annotations

import os
import uuid

from django.core.files.move import file_move_safe
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

DIR = os.environ.get("UPLOADWRITER_BENCH_DIR", ".")


def upload(request: HttpRequest) -> HttpResponse:
    """Each file of the form, parsed into a temp file, renamed into the directory."""
    sizes = []
    for file in request.FILES.values():
        assert isinstance(file, TemporaryUploadedFile)
        file_move_safe(file.temporary_file_path(), os.path.join(DIR, uuid.uuid4().hex))
        sizes.append(file.size)
    return JsonResponse({"sizes": sizes})


urlpatterns = [path("upload", upload)]
