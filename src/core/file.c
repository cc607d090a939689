/*
 * file.c — whole-file access for loaders: read-only memory maps, atomic
 * writes (temp + fsync + rename) for caches, mkdir -p and the cache folder
 * rule. Not for the memory store's files (SQLite owns those).
 */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int mnemo__file_map(const char *path, mnemo_file_map *map, mnemo_error *err) {
    memset(map, 0, sizeof *map);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mnemo__fail(err, errno == ENOENT ? MNEMO_ENOENT : MNEMO_EIO, "%s: cannot open: %s",
                           path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return mnemo__fail(err, MNEMO_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return mnemo__fail(err, MNEMO_EIO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        map->data = (const uint8_t *)"";
        return MNEMO_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return mnemo__fail(err, MNEMO_EIO, "%s: cannot map: %s", path, strerror(e));
    map->base_ = p;
    map->data = p;
    map->size = (size_t)st.st_size;
    return MNEMO_OK;
}

void mnemo__file_unmap(mnemo_file_map *map) {
    if (map && map->base_) munmap(map->base_, map->size);
    if (map) memset(map, 0, sizeof *map);
}

void mnemo__release_pages(const void *p, size_t n) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), b = ((uintptr_t)p + n) & ~(page - 1);
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

int mnemo__is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int mnemo__mkdirs(const char *path, mnemo_error *err) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return mnemo__fail(err, MNEMO_EINVAL, "bad folder path");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return mnemo__fail(err, MNEMO_EIO, "%s: cannot create folder: %s", buf,
                                   strerror(errno));
            buf[i] = c;
        }
    }
    return MNEMO_OK;
}

static int write_all(int fd, const void *data, size_t size) {
    static const uint8_t zeros[4096];
    const uint8_t *p = data;
    while (size > 0) {
        size_t chunk = data ? size : (size < sizeof zeros ? size : sizeof zeros);
        ssize_t w = write(fd, data ? p : zeros, chunk);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        if (data) p += w;
        size -= (size_t)w;
    }
    return 0;
}

int mnemo__file_commit(const char *tmp, const char *path, mnemo_error *err) {
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        unlink(tmp);
        return mnemo__fail(err, MNEMO_EIO, "%s: fsync failed: %s", tmp, strerror(e));
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return mnemo__fail(err, MNEMO_EIO, "%s: rename failed: %s", path, strerror(e));
    }
    /* the rename itself is durable once the folder is */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else
        return MNEMO_OK;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        int rc = fsync(dfd);
        int e = errno;
        close(dfd);
        if (rc != 0) return mnemo__fail(err, MNEMO_EIO, "%s: fsync failed: %s", dir, strerror(e));
    }
    return MNEMO_OK;
}

int mnemo__file_write_atomic_pieces(const char *path, const mnemo_piece *pieces, size_t n,
                                    mnemo_error *err) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return mnemo__fail(err, MNEMO_EINVAL, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return mnemo__fail(err, MNEMO_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    for (size_t i = 0; i < n; i++) {
        if (write_all(fd, pieces[i].data, pieces[i].size) != 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return mnemo__fail(err, MNEMO_EIO, "%s: write failed: %s", tmp, strerror(e));
        }
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return mnemo__fail(err, MNEMO_EIO, "%s: write failed: %s", tmp, strerror(e));
    }
    return mnemo__file_commit(tmp, path, err);
}

int mnemo__file_write_atomic(const char *path, const void *data, size_t size, mnemo_error *err) {
    mnemo_piece one = {size ? data : NULL, size};
    return mnemo__file_write_atomic_pieces(path, &one, size ? 1 : 0, err);
}

bool mnemo__cache_dir(const char *dir, char *buf, size_t cap) {
    const char *env;
    int n;
    if (dir && *dir)
        n = snprintf(buf, cap, "%s", dir);
    else if ((env = getenv("MNEMO_CACHE_DIR")) && *env)
        n = snprintf(buf, cap, "%s", env);
    else if ((env = getenv("XDG_CACHE_HOME")) && *env)
        n = snprintf(buf, cap, "%s/mnemo", env);
    else if ((env = getenv("HOME")) && *env)
        n = snprintf(buf, cap, "%s/.cache/mnemo", env);
    else
        return false;
    return n > 0 && (size_t)n < cap;
}

double mnemo__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
