"""A picture of a node graph (`aevs launch sim --graph-png PATH`): nodes as boxes, topics as
ellipses, arrows from publisher to subscriber."""
from __future__ import annotations

from pathlib import Path

from .graph import build_graph

#: What each executable publishes and subscribes to (the table of docs/architecture.md).
NODE_INTERFACES = {
    'planar_renderer': {'publishes': ['/camera/image_raw', '/camera/camera_info'],
                        'subscribes': ['/gantry/camera_pose']},
    'camera_node': {'publishes': ['/camera/image_raw', '/camera/camera_info'], 'subscribes': []},
    'servo_node': {'publishes': ['/servo/twist', '/servo/status', '/servo/debug_image',
                                 '/servo/reconstruction'],
                   'subscribes': ['/camera/image_raw', '/camera/camera_info'],
                   'serves': ['/set_goal_image', '/servo/pause', '/servo_to_image (action)']},
    'gantry_driver': {'publishes': ['/gantry/camera_pose', '/joint_states', '/gantry/status'],
                      'subscribes': ['/servo/twist'], 'serves': ['/gantry/estop']},
    'sim_scenario': {'publishes': [], 'subscribes': ['/gantry/camera_pose', '/servo/status', '/camera/camera_info'],
                     'calls': ['/set_goal_image']},
}


def draw_graph(graph: str, path) -> Path:
    """A PNG of a graph: nodes as boxes, topics as ellipses, arrows from publisher to subscriber."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    nodes = [spec.executable for spec in build_graph(graph)]
    topics = []
    for node in nodes:
        interfaces = NODE_INTERFACES[node]
        for topic in [*interfaces['publishes'], *interfaces['subscribes'], *interfaces.get('serves', [])]:
            if topic not in topics:
                topics.append(topic)
    figure, axes = plt.subplots(figsize=(12, 0.55 * max(len(topics), 2 * len(nodes)) + 1))
    axes.set_axis_off()
    node_y = {node: 1 - (i + 0.5) / len(nodes) for i, node in enumerate(nodes)}
    topic_y = {topic: 1 - (i + 0.5) / len(topics) for i, topic in enumerate(topics)}
    for node, y in node_y.items():
        axes.text(0.15, y, node, ha='center', va='center', fontsize=11, fontweight='bold',
                  bbox=dict(boxstyle='round', facecolor='#cfe2f3'))
        axes.text(0.85, y, node, ha='center', va='center', fontsize=11, fontweight='bold',
                  bbox=dict(boxstyle='round', facecolor='#cfe2f3'))
    for topic, y in topic_y.items():
        service = topic in {t for n in nodes for t in NODE_INTERFACES[n].get('serves', [])}
        axes.text(0.5, y, topic, ha='center', va='center', fontsize=9,
                  bbox=dict(boxstyle='round4' if service else 'ellipse', facecolor='#fff2cc' if service
                            else '#d9ead3'))
    arrow = dict(arrowstyle='->', color='#555555', shrinkA=4, shrinkB=4)
    for node in nodes:
        interfaces = NODE_INTERFACES[node]
        for topic in interfaces['publishes']:
            axes.annotate('', xy=(0.40, topic_y[topic]), xytext=(0.23, node_y[node]), arrowprops=arrow)
        for topic in [*interfaces['subscribes'], *interfaces.get('serves', [])]:
            axes.annotate('', xy=(0.77, node_y[node]), xytext=(0.60, topic_y[topic]), arrowprops=arrow)
        for topic in interfaces.get('calls', []):
            if topic in topic_y:
                axes.annotate('', xy=(0.40, topic_y[topic]), xytext=(0.23, node_y[node]),
                              arrowprops=dict(arrow, linestyle='dashed'))
    axes.text(0.5, -0.03, 'ellipses: topics;  boxes: services and the action;  dashed: a service call',
              ha='center', va='center', fontsize=9, color='#555555')
    axes.set_xlim(0, 1)
    axes.set_ylim(-0.05, 1)
    axes.set_title(f'aevs_ros {graph} graph: publishers / callers (left) -> topics, services (middle) '
                   f'-> subscribers / servers (right)', fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches='tight')
    plt.close(figure)
    return path
