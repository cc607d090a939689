/*
 * _mnemo.c — the CPython extension under the `mnemo` package: the embedding
 * engine of libmnemo (linked statically into this one module) behind two
 * small types. Everything shaped after sentence-transformers (batches,
 * quantization, similarity, prompts by task) is Python, in mnemo/_model.py;
 * this file only moves texts in and floats out.
 *
 *   Model(path, precision=None, cache_dir=None, tokenizer=None)
 *       a model folder or .gguf file, read-only once open: any thread may
 *       use it. dim, max_tokens, precision, kernels, prompts(),
 *       default_prompt(), pad_id, tokenize(texts, prompt).
 *   Context(model, threads=0, max_batch_tokens=0)
 *       one engine context (activations and a thread pool): one caller at a
 *       time, which is checked. embed(texts, prompt, prompt_name, dim, out)
 *       writes len(texts) * dim float32 into `out` (any writable C-contiguous
 *       buffer, e.g. a numpy array) and returns each text's token count.
 *
 * Loading a model, tokenizing and embedding release the GIL, so Python
 * threads with a context each run in parallel. Failures become exceptions:
 * FileNotFoundError (a missing file), MemoryError, else mnemo.MnemoError
 * (a ValueError) with mnemo's message and its status name in `.status`.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <mnemo.h>
#include <string.h>

/* The one internal header used here: logging's level. The engine logs
 * events (a model loaded, a cache written) to stderr as the CLI does; the
 * package sets the level (MNEMO_LOG_LEVEL, default warn, as `mnemo`'s). */
#include "core/core.h"

static PyObject *MnemoError;

/* Raises the Python exception for a failed mnemo call; returns NULL. */
static PyObject *raise_mnemo(int rc, const mnemo_error *err, const char *path) {
    const char *msg = err->message[0] ? err->message : mnemo_strerror(rc);
    if (rc == MNEMO_ENOENT) {
        PyObject *e = path
                          ? PyObject_CallFunction(PyExc_FileNotFoundError, "iss", ENOENT, msg, path)
                          : PyObject_CallFunction(PyExc_FileNotFoundError, "is", ENOENT, msg);
        if (e) {
            PyErr_SetObject(PyExc_FileNotFoundError, e);
            Py_DECREF(e);
        }
        return NULL;
    }
    if (rc == MNEMO_ENOMEM) return PyErr_NoMemory();
    PyObject *e = PyObject_CallFunction(MnemoError, "s", msg);
    if (!e) return NULL;
    PyObject *name = PyUnicode_FromString(mnemo_status_name(rc));
    if (name) {
        PyObject_SetAttrString(e, "status", name);
        Py_DECREF(name);
    }
    PyErr_SetObject(MnemoError, e);
    Py_DECREF(e);
    return NULL;
}

/* The UTF-8 of every str in `seq` (a list or tuple, kept alive by the
 * caller): pointers and lengths in arrays the caller frees with PyMem_Free.
 * A non-str item is a TypeError naming its index. */
static int utf8_items(PyObject *seq, const char ***texts, size_t **lens, Py_ssize_t *n_out) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    *texts = PyMem_Calloc(n ? (size_t)n : 1, sizeof **texts);
    *lens = PyMem_Calloc(n ? (size_t)n : 1, sizeof **lens);
    if (!*texts || !*lens) {
        PyMem_Free(*texts);
        PyMem_Free(*lens);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyUnicode_Check(items[i])) {
            PyErr_Format(PyExc_TypeError, "sentences[%zd] is %.80s, not str", i,
                         Py_TYPE(items[i])->tp_name);
            goto fail;
        }
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(items[i], &len);
        if (!s) goto fail; /* a lone surrogate: UnicodeEncodeError */
        (*texts)[i] = s;
        (*lens)[i] = (size_t)len;
    }
    *n_out = n;
    return 0;
fail:
    PyMem_Free(*texts);
    PyMem_Free(*lens);
    return -1;
}

/* ------------------------------------------------------------------ Model */

typedef struct {
    PyObject_HEAD mnemo_model *model;
} ModelObject;

static PyObject *Model_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *names[] = {"path", "precision", "cache_dir", "tokenizer", NULL};
    PyObject *path_b = NULL;
    const char *precision = NULL, *cache_dir = NULL, *tokenizer = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|zzz:Model", names, PyUnicode_FSConverter,
                                     &path_b, &precision, &cache_dir, &tokenizer))
        return NULL;
    ModelObject *self = (ModelObject *)type->tp_alloc(type, 0);
    if (!self) {
        Py_DECREF(path_b);
        return NULL;
    }
    const char *path = PyBytes_AS_STRING(path_b);
    mnemo_model_options o = mnemo_model_default_options();
    o.precision = precision;
    o.cache_dir = cache_dir;
    o.tokenizer = tokenizer;
    mnemo_error err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = mnemo_model_open(path, &o, &self->model, &err);
    Py_END_ALLOW_THREADS if (rc) {
        raise_mnemo(rc, &err, path);
        Py_DECREF(path_b);
        Py_DECREF(self);
        return NULL;
    }
    Py_DECREF(path_b);
    return (PyObject *)self;
}

static void Model_dealloc(ModelObject *self) {
    mnemo_model_close(self->model);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Model_dim(ModelObject *self, void *unused) {
    return PyLong_FromSize_t(mnemo_model_dim(self->model));
}
static PyObject *Model_max_tokens(ModelObject *self, void *unused) {
    return PyLong_FromSize_t(mnemo_model_max_tokens(self->model));
}
static PyObject *Model_precision(ModelObject *self, void *unused) {
    return PyUnicode_FromString(mnemo_model_precision(self->model));
}
static PyObject *Model_kernels(ModelObject *self, void *unused) {
    return PyUnicode_FromString(mnemo_model_kernels(self->model));
}
/* The id padding uses (<pad>), or 0 when the vocabulary has none. */
static PyObject *Model_pad_id(ModelObject *self, void *unused) {
    int32_t id = mnemo_tokenizer_token_id(mnemo_model_tokenizer(self->model), "<pad>", 5);
    return PyLong_FromLong(id < 0 ? 0 : id);
}

/* [(name, text), ...] in the order of config_sentence_transformers.json. */
static PyObject *Model_prompts(ModelObject *self, PyObject *unused) {
    int n = mnemo_model_prompt_count(self->model);
    PyObject *list = PyList_New(n);
    if (!list) return NULL;
    for (int i = 0; i < n; i++) {
        const char *name = mnemo_model_prompt_name(self->model, i);
        PyObject *t = Py_BuildValue("(ss)", name, mnemo_model_prompt_text(self->model, name));
        if (!t) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, t);
    }
    return list;
}

/* The text the model prepends when no prompt is given ("" for none). */
static PyObject *Model_default_prompt(ModelObject *self, PyObject *unused) {
    const char *text;
    mnemo_error err = {0};
    int rc = mnemo_embed_prompt(self->model, NULL, &text, &err);
    if (rc) return raise_mnemo(rc, &err, NULL);
    return PyUnicode_FromString(text);
}

/* tokenize(texts, prompt): the ids the model runs for each text with the
 * prompt text prepended (None: the model's default prompt; "": none),
 * <bos>/<eos> added and truncated as encode does. A list of lists. */
static PyObject *Model_tokenize(ModelObject *self, PyObject *args) {
    PyObject *texts_in;
    const char *prompt = NULL;
    if (!PyArg_ParseTuple(args, "O|z:tokenize", &texts_in, &prompt)) return NULL;
    PyObject *seq = PySequence_Fast(texts_in, "texts must be a list or tuple of str");
    if (!seq) return NULL;
    const char **texts;
    size_t *lens;
    Py_ssize_t n;
    if (utf8_items(seq, &texts, &lens, &n)) {
        Py_DECREF(seq);
        return NULL;
    }
    int32_t **ids = PyMem_Calloc(n ? (size_t)n : 1, sizeof *ids);
    size_t *counts = PyMem_Calloc(n ? (size_t)n : 1, sizeof *counts);
    PyObject *result = NULL;
    if (!ids || !counts) {
        PyErr_NoMemory();
        goto done;
    }
    mnemo_embed_options o = mnemo_embed_default_options();
    o.prompt_text = prompt;
    mnemo_error err = {0};
    int rc = MNEMO_OK;
    Py_ssize_t failed = -1;
    Py_BEGIN_ALLOW_THREADS for (Py_ssize_t i = 0; i < n && !rc; i++) {
        rc = mnemo_embed_tokenize(self->model, texts[i], lens[i], &o, &ids[i], &counts[i], &err);
        if (rc) failed = i;
    }
    Py_END_ALLOW_THREADS if (rc) {
        mnemo_error e2 = err;
        snprintf(e2.message, sizeof e2.message, "sentences[%zd]: %.400s", failed, err.message);
        raise_mnemo(rc, &e2, NULL);
        goto done;
    }
    result = PyList_New(n);
    for (Py_ssize_t i = 0; result && i < n; i++) {
        PyObject *row = PyList_New((Py_ssize_t)counts[i]);
        if (!row) {
            Py_CLEAR(result);
            break;
        }
        for (size_t k = 0; k < counts[i]; k++)
            PyList_SET_ITEM(row, (Py_ssize_t)k, PyLong_FromLong(ids[i][k]));
        PyList_SET_ITEM(result, i, row);
    }
done:
    for (Py_ssize_t i = 0; ids && i < n; i++) mnemo_free(ids[i]);
    PyMem_Free(ids);
    PyMem_Free(counts);
    PyMem_Free(texts);
    PyMem_Free(lens);
    Py_DECREF(seq);
    return result;
}

static PyGetSetDef Model_getset[] = {
    {"dim", (getter)Model_dim, NULL, "width of the output vectors", NULL},
    {"max_tokens", (getter)Model_max_tokens, NULL,
     "most tokens one input may have, <bos>/<eos> included", NULL},
    {"precision", (getter)Model_precision, NULL, "the precision the weights run at", NULL},
    {"kernels", (getter)Model_kernels, NULL, "the kernel table chosen for this CPU", NULL},
    {"pad_id", (getter)Model_pad_id, NULL, "the <pad> id (0 if none)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Model_methods[] = {
    {"prompts", (PyCFunction)Model_prompts, METH_NOARGS,
     "[(name, text), ...] of the model's prompts"},
    {"default_prompt", (PyCFunction)Model_default_prompt, METH_NOARGS,
     "the default prompt's text, or ''"},
    {"tokenize", (PyCFunction)Model_tokenize, METH_VARARGS,
     "tokenize(texts, prompt=None) -> [[id, ...], ...]"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mnemo._mnemo.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "Model(path, precision=None, cache_dir=None, tokenizer=None): an open model (read-only)",
    .tp_methods = Model_methods,
    .tp_getset = Model_getset,
    .tp_new = Model_new,
};

/* ---------------------------------------------------------------- Context */

typedef struct {
    PyObject_HEAD ModelObject *model; /* kept alive: the context uses its weights */
    mnemo_context *ctx;
    int busy; /* read and written with the GIL held */
} ContextObject;

static PyObject *Context_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *names[] = {"model", "threads", "max_batch_tokens", NULL};
    PyObject *model;
    int threads = 0;
    Py_ssize_t max_batch = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|in:Context", names, &ModelType, &model, &threads,
                                     &max_batch))
        return NULL;
    if (max_batch < 0) {
        PyErr_SetString(PyExc_ValueError, "max_batch_tokens must be >= 0");
        return NULL;
    }
    ContextObject *self = (ContextObject *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    Py_INCREF(model);
    self->model = (ModelObject *)model;
    mnemo_context_options o = mnemo_context_default_options();
    o.n_threads = threads;
    if (max_batch) o.max_batch_tokens = (size_t)max_batch;
    mnemo_error err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = mnemo_context_create(self->model->model, &o, &self->ctx, &err);
    Py_END_ALLOW_THREADS if (rc) {
        Py_DECREF(self);
        return raise_mnemo(rc, &err, NULL);
    }
    return (PyObject *)self;
}

static void Context_dealloc(ContextObject *self) {
    mnemo_context_free(self->ctx);
    Py_XDECREF(self->model);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* embed(texts, prompt, prompt_name, dim, out) -> [n_tokens, ...] */
static PyObject *Context_embed(ContextObject *self, PyObject *args) {
    PyObject *texts_in, *out_obj;
    const char *prompt = NULL, *prompt_name = NULL;
    Py_ssize_t dim = 0;
    if (!PyArg_ParseTuple(args, "OzznO:embed", &texts_in, &prompt, &prompt_name, &dim, &out_obj))
        return NULL;
    size_t width = mnemo_model_dim(self->model->model);
    if (dim < 0 || (size_t)dim > width) {
        PyErr_Format(PyExc_ValueError,
                     "truncate_dim must be 1..%zu (0 or None: the full width), not %zd", width,
                     dim);
        return NULL;
    }
    size_t d = dim ? (size_t)dim : width;
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "this mnemo context is already embedding on another "
                                            "thread; use one context per thread");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(texts_in, "sentences must be a str or a list of str");
    if (!seq) return NULL;
    const char **texts;
    size_t *lens;
    Py_ssize_t n;
    if (utf8_items(seq, &texts, &lens, &n)) {
        Py_DECREF(seq);
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(out_obj, &view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
        PyMem_Free(texts);
        PyMem_Free(lens);
        Py_DECREF(seq);
        return NULL;
    }
    PyObject *result = NULL;
    size_t *counts = NULL;
    if ((size_t)view.len != (size_t)n * d * sizeof(float)) {
        PyErr_Format(PyExc_ValueError, "out holds %zd bytes; %zd texts at dim %zu need %zu",
                     view.len, n, d, (size_t)n * d * sizeof(float));
        goto done;
    }
    counts = PyMem_Calloc(n ? (size_t)n : 1, sizeof *counts);
    if (!counts) {
        PyErr_NoMemory();
        goto done;
    }
    mnemo_embed_options o = mnemo_embed_default_options();
    o.prompt_text = prompt;
    o.prompt_name = prompt_name;
    o.dim = d;
    mnemo_error err = {0};
    int rc;
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS rc =
        mnemo_embed(self->ctx, texts, lens, (size_t)n, &o, (float *)view.buf, counts, &err);
    Py_END_ALLOW_THREADS self->busy = 0;
    if (rc) {
        raise_mnemo(rc, &err, NULL);
        goto done;
    }
    result = PyList_New(n);
    for (Py_ssize_t i = 0; result && i < n; i++)
        PyList_SET_ITEM(result, i, PyLong_FromSize_t(counts[i]));
done:
    PyBuffer_Release(&view);
    PyMem_Free(counts);
    PyMem_Free(texts);
    PyMem_Free(lens);
    Py_DECREF(seq);
    return result;
}

static PyMethodDef Context_methods[] = {
    {"embed", (PyCFunction)Context_embed, METH_VARARGS,
     "embed(texts, prompt, prompt_name, dim, out) -> [n_tokens, ...]: writes len(texts) x dim "
     "float32 to out"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ContextType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mnemo._mnemo.Context",
    .tp_basicsize = sizeof(ContextObject),
    .tp_dealloc = (destructor)Context_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Context(model, threads=0, max_batch_tokens=0): one caller's engine context",
    .tp_methods = Context_methods,
    .tp_new = Context_new,
};

/* ----------------------------------------------------------------- module */

/* set_log_level("debug" | "info" | "warn" | "error" | "off") */
static PyObject *set_log_level(PyObject *unused, PyObject *arg) {
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name) return NULL;
    int level = mnemo__log_level_parse(name);
    if (level < 0) {
        PyErr_Format(PyExc_ValueError,
                     "log level '%.40s' is not one of debug, info, warn, error, off", name);
        return NULL;
    }
    mnemo__log_set_level((mnemo_log_level)level);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"set_log_level", set_log_level, METH_O,
     "set_log_level(level): what the engine logs to stderr: debug, info, warn, error or off"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "mnemo._mnemo",
    .m_doc = "The mnemo embedding engine (libmnemo's engine, linked in).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__mnemo(void) {
    if (PyType_Ready(&ModelType) < 0 || PyType_Ready(&ContextType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    MnemoError = PyErr_NewExceptionWithDoc(
        "mnemo.MnemoError",
        "A mnemo call failed; the message says what to change, .status names the code.",
        PyExc_ValueError, NULL);
    if (!MnemoError || PyModule_AddObject(m, "MnemoError", MnemoError) < 0) goto fail;
    Py_INCREF(MnemoError); /* the module's reference, and this file's */
    Py_INCREF(&ModelType);
    if (PyModule_AddObject(m, "Model", (PyObject *)&ModelType) < 0) goto fail;
    Py_INCREF(&ContextType);
    if (PyModule_AddObject(m, "Context", (PyObject *)&ContextType) < 0) goto fail;
    if (PyModule_AddStringConstant(m, "engine_version", mnemo_version()) < 0) goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
