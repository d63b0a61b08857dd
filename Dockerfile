# docmodel web app: docker build -t docmodel . && docker run -p 8501:8501 docmodel
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /srv/docmodel

# The CPU build of torch first, from PyTorch's CPU index, so pip never pulls the CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml README.md ./
COPY corpora ./corpora
COPY docmodel ./docmodel
COPY app ./app
COPY .streamlit ./.streamlit
RUN pip install . torch==2.13.0

RUN useradd --create-home docmodel
USER docmodel

EXPOSE 8501
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health')"
CMD ["docmodel", "app", "--port", "8501", "--address", "0.0.0.0"]
