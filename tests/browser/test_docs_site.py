"""The docs site as a reader meets it: headless Chromium visits every page of the built site and
fails on a missing page, a broken internal link (file or #anchor), an image that does not load, a
JavaScript error, or a widget left as an empty box."""
import time
from urllib.parse import urldefrag, urlparse


def test_every_page_loads_with_working_links_images_and_scripts(browser, docs_site):
    t0 = time.perf_counter()
    base, root = docs_site['url'], docs_site['root']
    context = browser.new_context()
    page = context.new_page()
    problems, console, responses = [], [], {}
    page.on('console', lambda m: console.append(f'{m.type}: {m.text}') if m.type == 'error' else None)
    page.on('pageerror', lambda e: console.append(f'uncaught: {e}'))
    def on_response(r):
        responses[r.url] = r.status
        if r.status >= 400: console.append(f'HTTP {r.status} for {r.url}')
    page.on('response', on_response)
    page.on('requestfailed', lambda r: console.append(f'request failed: {r.url} ({r.failure})'))

    pages = {f'{base}/{p.relative_to(root).as_posix()}' for p in root.rglob('*.html')
             if not p.relative_to(root).as_posix().startswith(('_static/', '_sources/'))}
    todo, seen, anchors, ids = sorted(pages), set(), [], {}
    while todo:
        url = todo.pop()
        if url in seen: continue
        seen.add(url)
        console.clear()
        resp = page.goto(url, wait_until='load')
        if resp is None or resp.status >= 400:
            problems.append(f'{url}: HTTP {resp.status if resp else "no response"}'); continue
        page.evaluate("""async () => {           // load lazy images too, then wait for every image to settle
            for (const img of document.images) img.loading = 'eager';
            await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
        }""")
        broken = page.evaluate('() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)')
        problems += [f'{url}: image does not load: {src}' for src in broken]
        problems += [f'{url}: {m}' for m in console]
        ids[url] = set(page.evaluate('() => [...document.querySelectorAll("[id]")].map(e => e.id)'))
        if page.locator('.jupyter-widgets:empty, .widget-subarea:empty').count():
            problems.append(f'{url}: an empty widget box (no kernel on the site: show a static rendering)')
        for href in page.evaluate('() => [...document.querySelectorAll("a[href]")].map(a => a.href)'):
            target, fragment = urldefrag(href)
            if urlparse(target).netloc != urlparse(base).netloc: continue
            anchors.append((url, target, fragment))
            if target.endswith('.html') and target not in seen: todo.append(target)
            elif not target.endswith('.html') and target not in responses:
                status = page.request.get(target).status
                responses[target] = status
    for src, target, fragment in anchors:
        if target.endswith('/'): target += 'index.html'
        status = responses.get(target, 200 if target in ids else None)
        if target not in ids and (status is None or status >= 400):
            problems.append(f'{src}: broken link to {target}')
        elif fragment and target in ids and fragment not in ids[target]:
            problems.append(f'{src}: link to a missing anchor {target}#{fragment}')
    context.close()
    print(f'docs check: {len(seen)} pages, {len(anchors)} internal links, {time.perf_counter() - t0:.1f} s')
    assert len(seen) >= len(pages) and len(seen) >= 10, f'only {len(seen)} pages found'
    assert not problems, '\n'.join(sorted(set(problems))[:40])


def test_the_results_page_lists_every_chapters_numbers(browser, docs_site):
    import json
    page = browser.new_page()
    page.goto(f"{docs_site['url']}/results.html", wait_until='load')
    text = page.inner_text('main')
    results = json.loads((docs_site['root'].parent/'results.json').read_text())
    missing = [c for c in results if c not in text]
    assert not missing, f'the results page lacks chapters {missing}'
    from build_docs import chapter_figures, results_markdown
    questions = results_markdown(results, {c: chapter_figures(c) for c in results}).count('| number | value |')
    assert page.locator('main table').count() == questions >= len(results), 'one table of numbers per question'
    assert page.locator('main table a[href*=".html#"]').count(), 'labels link to the section that measured them'
    page.goto(f"{docs_site['url']}/index.html", wait_until='load')
    assert page.locator('a[href*="results.html"]').count(), 'the home page should link to the results page'
    page.close()
