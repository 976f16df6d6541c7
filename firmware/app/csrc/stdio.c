/* Mbed TLS links against printf, puts and putchar (self-checks that print only on a
 * misconfiguration); a board has no stdout, so they print nothing. */
int printf(const char *format, ...) { (void)format; return 0; }
int puts(const char *text) { (void)text; return 0; }
int putchar(int c) { return c; }
