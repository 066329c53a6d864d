package org.elasticsearch.node;

import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An Elasticsearch {@link Node} that takes its plugins from classes on the classpath.
 *
 * <p>Lives in {@code org.elasticsearch.node} only because {@code NodeConstruction} and
 * {@code NodeServiceProvider} are package-private.
 */
public final class ClasspathNode extends Node {
    public ClasspathNode(Environment environment, Collection<Class<? extends Plugin>> pluginClasses) {
        super(construct(environment, List.copyOf(pluginClasses)));
    }

    private static NodeConstruction construct(Environment environment, List<Class<? extends Plugin>> pluginClasses) {
        PluginsLoader emptyLoader = PluginsLoader.createPluginsLoader(Set.of(), Set.of(), Map.of(), false);
        NodeServiceProvider provider = new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment env, PluginsLoader loader) {
                return new ClasspathPluginsService(env.settings(), loader, pluginClasses);
            }
        };
        // last argument: forbidPrivateIndexSettings (true, as in a real node)
        return NodeConstruction.prepareConstruction(environment, emptyLoader, provider, true);
    }
}
